"""Running several voicebot workers behind a front: config writers for Kamailio (SIP calls) and
HAProxy (media streams and the web page), and their templates beside this file.

    voicebot deploy kamailio --worker 127.0.0.2:5070 --worker 127.0.0.3:5070 --max-calls 2 \\
        --listen udp:127.0.0.1:5060 --out front/sip     # kamailio.cfg, dispatcher.list, run.sh
    voicebot deploy haproxy --worker 127.0.0.2:8080 --worker 127.0.0.3:8080 \\
        --bind 127.0.0.1:8088 --out front/web           # haproxy.cfg, run.sh

Each run.sh starts its daemon in the foreground from its own directory (no Debian service is
used). docs/deploy.md says how the workers are started and how the fronts are hardened (an
allow-list, digest authentication, TLS).
"""
from voicebot.deploy.write import add_parsers, haproxy, kamailio

__all__ = ["add_parsers", "haproxy", "kamailio"]
