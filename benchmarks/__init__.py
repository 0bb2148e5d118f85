"""segflow's benchmark suite: each module is one named workload that prints a table and writes JSON results."""
