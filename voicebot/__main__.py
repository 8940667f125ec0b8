import sys

from voicebot.cli.main import main

sys.exit(main())
