"""tools/bench/compare.py's parts: the machine (system), the servers, one module per kind of
scenario (echo, greet, fanout, broadcast), and the tables they print."""
