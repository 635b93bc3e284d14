"""The peak resident memory of this process, in MiB, for the peer scripts.

Linux: `VmHWM` of /proc/self/status, which starts afresh at exec. `ru_maxrss` does not: after
fork and exec it keeps the parent's high-water mark, so a peer started by a large xtask
process would report xtask's peak. Elsewhere `ru_maxrss` (bytes on macOS).
"""
import resource
import sys


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)
