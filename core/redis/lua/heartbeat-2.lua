--[[
  Records a node's heartbeat: its record with a TTL, and its expiry in the node index, dropping
  index entries whose heartbeat has expired.

  KEYS[1] the node's record key
  KEYS[2] the node index (sorted set: node id -> expiry, ms)
  ARGV[1] the record (JSON)
  ARGV[2] TTL (ms)
  ARGV[3] node id
  ARGV[4] now (ms)

  Returns 1.
]]
local expiry = tonumber(ARGV[4]) + tonumber(ARGV[2])
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("ZADD", KEYS[2], expiry, ARGV[3])
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", "(" .. ARGV[4])
return 1
