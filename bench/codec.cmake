# codec benchmark
