--[[
  Takes a download slot of one version for a holder, if fewer than the limit are held. Leases are
  timed by the Redis server's clock, so the nodes' clocks do not matter; expired leases are dropped
  first, and the key expires with its last lease.

  KEYS[1] the version's download slots (sorted set: holder -> lease expiry, ms)
  ARGV[1] holder (node id)
  ARGV[2] limit (slots)
  ARGV[3] lease TTL (ms)

  Returns 1 when the holder holds a slot (taken now, or held already and its lease renewed), else 0.
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
local held = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not held and redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
redis.call("PEXPIREAT", KEYS[1], last[2])
return 1
