"""What the test suite and the benchmarks both need, in one place: service processes
(`servers`), tokens, host data, a site seeded at once and the sequencer's turn
(`hostdata`), socket clients that check every stream (`stream`), network faults
(`netproxy`), HAProxy (`haproxy`), /metrics (`scrape`), and a command run as its user
runs it, with the JSON report it writes (`commands`: how the tests run the benchmarks).
Neither tests/ nor bench/ imports the other."""
