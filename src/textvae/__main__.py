"""python -m textvae"""

from textvae.cli import main

main()
