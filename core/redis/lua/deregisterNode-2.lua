--[[
  Removes a node that shuts down cleanly, so it stops counting as live at once.

  KEYS[1] the node's record key
  KEYS[2] the node index (sorted set)
  ARGV[1] node id

  Returns 1.
]]
redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[2], ARGV[1])
return 1
