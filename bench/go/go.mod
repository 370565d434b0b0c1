module tlpool.bench/syncpool

go 1.19
