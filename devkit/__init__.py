"""What the test suite and the benchmarks both need, in one place: service processes
(`servers`), tokens, host data and the sequencer's turn (`hostdata`), socket clients that
check every stream (`stream`), network faults (`netproxy`), HAProxy (`haproxy`) and
/metrics (`scrape`). Neither tests/ nor bench/ imports the other."""
