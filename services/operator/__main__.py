from services.operator.cli import main

main()
