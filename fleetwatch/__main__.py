from fleetwatch.cli import main

main()
