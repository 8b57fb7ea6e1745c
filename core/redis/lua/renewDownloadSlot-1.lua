--[[
  Extends a holder's download slot lease, if it has not expired (by the Redis server's clock).

  KEYS[1] the version's download slots (sorted set: holder -> lease expiry, ms)
  ARGV[1] holder (node id)
  ARGV[2] lease TTL (ms)

  Returns 1 when renewed, 0 when the holder holds no live lease (it expired: the slot may be taken).
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiry = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not expiry then
  return 0
end
if tonumber(expiry) <= now then
  redis.call("ZREM", KEYS[1], ARGV[1])
  return 0
end
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
redis.call("PEXPIREAT", KEYS[1], last[2])
return 1
