--[[
  Frees a holder's download slot (the key goes with its last member).

  KEYS[1] the version's download slots (sorted set: holder -> lease expiry, ms)
  ARGV[1] holder (node id)

  Returns 1 when the holder held a slot, else 0.
]]
return redis.call("ZREM", KEYS[1], ARGV[1])
