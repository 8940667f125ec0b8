#!/bin/sh
# A private PulseAudio with a virtual microphone and speaker, for testing `voicebot talk`
# through PyAudio on a machine without sound hardware (see docs: virtual audio in the README).
#   eval "$(sh scripts/vaudio.sh start /tmp/vaudio)"   # prints the PULSE_SERVER/PULSE_COOKIE exports
#   paplay --device=vmic_feed caller.wav               # the caller speaks into the microphone
#   parecord --device=vspeaker.monitor out.wav         # what the program plays
#   sh scripts/vaudio.sh stop /tmp/vaudio
# Needs pulseaudio, pulseaudio-utils and libasound2-plugins (scripts/system-deps.sh installs them).
set -e
cmd=${1:?usage: vaudio.sh start|stop DIR}; D=${2:-/tmp/vaudio}
if [ "$cmd" = stop ]; then
    [ -f "$D/pulse.pid" ] || exit 0
    pid=$(cat "$D/pulse.pid"); kill "$pid" 2>/dev/null || true
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    rm -rf "$D"; exit 0
fi
[ "$cmd" = start ] || { echo "usage: vaudio.sh start|stop DIR" >&2; exit 2; }
command -v pulseaudio >/dev/null || { echo "vaudio: pulseaudio is not installed (scripts/system-deps.sh)" >&2; exit 1; }
mkdir -p "$D/run" "$D/home"; chmod 700 "$D/run"
cat > "$D/vaudio.pa" <<PA
.fail
load-module module-native-protocol-unix auth-anonymous=1 socket=$D/run/pulse/native
load-module module-null-sink sink_name=vspeaker rate=16000 channels=1 sink_properties=device.description=VirtualSpeaker
load-module module-null-sink sink_name=vmic_feed rate=16000 channels=1 sink_properties=device.description=VirtualMicFeed
load-module module-remap-source source_name=vmic master=vmic_feed.monitor source_properties=device.description=VirtualMic
load-module module-null-source source_name=silence rate=16000 channels=1
load-module module-loopback source=silence sink=vmic_feed latency_msec=100
load-module module-loopback source=silence sink=vspeaker latency_msec=100
set-default-sink vspeaker
set-default-source vmic
PA
# keep-alive loopbacks above: an idle null sink renders 2 s blocks (first reads 1.3-1.8 s late)
XDG_RUNTIME_DIR="$D/run" HOME="$D/home" pulseaudio -n -F "$D/vaudio.pa" --daemonize=no --exit-idle-time=-1 \
  --disallow-exit --log-target="newfile:$D/pulse.log" </dev/null >/dev/null 2>&1 & echo $! > "$D/pulse.pid"
export PULSE_SERVER="unix:$D/run/pulse/native" PULSE_COOKIE="$D/cookie"
i=0; until pactl info >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || { cat "$D/pulse.log" >&2; exit 1; }; sleep 0.1; done
for s in vmic_feed vspeaker; do pactl suspend-sink $s 1; pactl suspend-sink $s 0; done  # end the 2 s start-up block
echo "export PULSE_SERVER='$PULSE_SERVER' PULSE_COOKIE='$PULSE_COOKIE'"
