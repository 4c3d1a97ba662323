"""What ``tagger status`` reads and judges: the state file, the daemon's note, the lock.

``daemoninfo`` is the small note a running daemon keeps beside the state file
(its pid, the last reload's outcome, its Smart Tags' paths); ``lockprobe``
tells whether a process holds the state file's lock without taking it;
``snapshot`` gathers everything (I/O); ``checks`` judges it for monitoring
(pure), with Nagios-style verdicts.
"""
