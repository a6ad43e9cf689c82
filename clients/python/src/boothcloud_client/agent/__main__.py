import sys

from boothcloud_client.agent.cli import main

sys.exit(main())
