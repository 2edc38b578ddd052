"""python -m textvae.cli"""

from textvae.cli import main

main()
