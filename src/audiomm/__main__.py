from audiomm.cli import main

main()
