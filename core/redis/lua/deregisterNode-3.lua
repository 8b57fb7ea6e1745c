--[[
  Removes a node that shuts down cleanly, so it stops counting as live at once.

  KEYS[1] the node's record key
  KEYS[2] the node index (sorted set)
  KEYS[3] the index of nodes that keep the per-model index (sorted set)
  ARGV[1] node id

  Returns what its record served (model names, "*" for every model; none when it had no record):
  the caller removes it from those model indexes, whose keys are not among these KEYS.
]]
local previous = redis.call("GET", KEYS[1])
redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("ZREM", KEYS[3], ARGV[1])

local served = {}
if not previous then return served end
local ok, record = pcall(cjson.decode, previous)
if not ok or type(record) ~= "table" or type(record.serves) ~= "table" then return served end
for _, model in ipairs(record.serves) do
  if type(model) == "string" then table.insert(served, model) end
end
if #record.serves == 0 then table.insert(served, "*") end
return served
