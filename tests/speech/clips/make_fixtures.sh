#!/bin/sh
# Regenerate the committed speech fixtures: needs the Debian packages espeak-ng and sox, and the
# project's venv (its imageio-ffmpeg binary encodes Opus). The tests themselves need neither.
set -eu
cd "$(dirname "$0")"
ffmpeg=$(../../../.venv/bin/python -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() {  # say VOICE PITCH OUT TEXT: mono 16 kHz speech
    espeak-ng -v "$1" -p "$2" -s 150 -w "$tmp/raw.wav" "$4"
    sox "$tmp/raw.wav" -r 16000 -c 1 "$3"
}

opus() {  # opus IN.wav OUT.ogg: 32 kbit/s Opus, a tenth of the WAV's size
    "$ffmpeg" -hide_banner -loglevel error -y -i "$1" -c:a libopus -b:a 32k "$2"
}

say en-us 50 "$tmp/meeting.wav" \
    "Good morning everyone. The budget meeting is moved to Friday afternoon. Please send your report before Thursday."
sox "$tmp/meeting.wav" "$tmp/meeting_pad.wav" pad 0.3 0.3
opus "$tmp/meeting_pad.wav" meeting.ogg

say en-us 30 "$tmp/a.wav" "Hello, this is the first speaker. I will talk about the project schedule for next week."
say en+f3 90 "$tmp/b.wav" "Thank you. I am the second speaker, and I answer with a very different voice."
say en-us 30 "$tmp/c.wav" "Good. Then the first speaker closes the call."
sox "$tmp/a.wav" "$tmp/b.wav" "$tmp/c.wav" "$tmp/two.wav" pad 0.3 0.3
opus "$tmp/two.wav" two_voices.ogg
