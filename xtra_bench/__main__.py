from xtra_bench.cli import main

main()
