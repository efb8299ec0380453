# data plane benchmark
