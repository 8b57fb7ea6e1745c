--[[
  Records a node's heartbeat: its record with a TTL, and its expiry in the node index, in the index of
  nodes that keep the per-model index, and in the index of each model it serves (or the index of nodes
  that serve every model), dropping entries whose heartbeat has expired from each of those.

  KEYS[1]  the node's record key
  KEYS[2]  the node index (sorted set: node id -> expiry, ms)
  KEYS[3]  the index of nodes that keep the per-model index (same shape)
  KEYS[4…] the model indexes it belongs in now (same shape): one per model it serves, or the index of
           nodes that serve every model
  ARGV[1]  the record (JSON)
  ARGV[2]  TTL (ms)
  ARGV[3]  node id
  ARGV[4]  now (ms)
  ARGV[5…] what it serves now: the model names, or "*" for every model

  Returns what its previous record served and this one does not (model names, "*" for every model),
  sorted: the caller removes it from those indexes, whose keys are not among these KEYS.
]]
local expiry = tonumber(ARGV[4]) + tonumber(ARGV[2])
local previous = redis.call("GET", KEYS[1])
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
for i = 2, #KEYS do
  redis.call("ZADD", KEYS[i], expiry, ARGV[3])
  redis.call("ZREMRANGEBYSCORE", KEYS[i], "-inf", "(" .. ARGV[4])
end

local dropped = {}
if not previous then return dropped end
local ok, record = pcall(cjson.decode, previous)
if not ok or type(record) ~= "table" or type(record.serves) ~= "table" then return dropped end
local before = {}
for _, model in ipairs(record.serves) do before[model] = true end
if #record.serves == 0 then before["*"] = true end
local now = {}
for i = 5, #ARGV do now[ARGV[i]] = true end
for model in pairs(before) do
  if type(model) == "string" and not now[model] then table.insert(dropped, model) end
end
table.sort(dropped)
return dropped
