-- Take up to ARGV[4] messages for one consumer, as Dramatiq's dispatch "fetch" does (each id joins the
-- consumer's ack set, so a worker killed after taking still has them put back), but in taskgate's order:
--   1. nothing while the queue is paused or the consumer's host is drained;
--   2. the queue's own list first (messages put back by a dead or stopping worker, delayed retries, re-sends,
--      dependent stages handed over, and every submit while priorities are off): they were chosen once already;
--   3. then the priority lanes: the band whose oldest message has the best effective priority (its band, one
--      better per ARGV[6] ms it has waited: low is never starved), the longer wait on a tie; within the band the
--      clients with work take turns (rotation list), each turn taking the client's weight in messages. A band
--      whose oldest message has aged past its band gives that oldest message (oldest first).
-- KEYS[1] the queue's list (dramatiq:{queue}), KEYS[2] its messages hash (dramatiq:{queue}.msgs),
-- KEYS[3] the consumer's ack set (dramatiq:__acks__.{broker id}.{queue}), KEYS[4] Dramatiq's heartbeats zset,
-- KEYS[5] paused queues hash, KEYS[6] drained hosts hash, KEYS[7] client weights hash,
-- KEYS[8..16] per band (high, normal, low): rotation list, turns hash, ages zset;
-- KEYS[17] the queue's lane tokens list (one per message in its lanes; an autoscaler reads its length)
-- ARGV[1] queue, ARGV[2] broker id, ARGV[3] now ms (the caller's clock, as Dramatiq's dispatch takes it), ARGV[4] how many, ARGV[5] host ('' = never drained),
-- ARGV[6] aging ms, ARGV[7..9] per band: the prefix of its lanes (the client's name follows)
-- returns the encoded messages (HMGET of the ids taken; nil for an id whose message is gone), or {}
local now = tonumber(ARGV[3])
redis.call('ZADD', KEYS[4], now, ARGV[2])
if redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then
  return {}
end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[6], ARGV[5]) == 1 then
  return {}
end
local aging = tonumber(ARGV[6])

local function band_keys(b)
  return KEYS[5 + 3 * b], KEYS[6 + 3 * b], KEYS[7 + 3 * b], ARGV[6 + b]
end

local function leave_if_empty(b, client, lane)
  if redis.call('LLEN', lane) == 0 then
    local rotation, turns = band_keys(b)
    redis.call('LREM', rotation, 0, client)
    redis.call('HDEL', turns, client)
    return true
  end
  return false
end

local function take_oldest(b, member)
  local _, _, ages, prefix = band_keys(b)
  local tab = string.find(member, '\t', 1, true)
  local client, id = string.sub(member, 1, tab - 1), string.sub(member, tab + 1)
  local lane = prefix .. client
  redis.call('LREM', lane, 1, id)
  redis.call('ZREM', ages, member)
  leave_if_empty(b, client, lane)
  return id
end

local function take_lane()
  local best, best_eff, best_member, best_at
  for b = 1, 3 do
    local _, _, ages = band_keys(b)
    local head = redis.call('ZRANGE', ages, 0, 0, 'WITHSCORES')
    if head[1] then
      local at = tonumber(head[2])
      local eff = (b - 1) - math.floor((now - at) / aging)
      if eff < 0 then eff = 0 end
      -- the best effective priority; on a tie the band whose oldest waited longer (an aged low is not
      -- starved by a stream of fresh highs), then the higher band
      if best == nil or eff < best_eff or (eff == best_eff and at < best_at) then
        best, best_eff, best_member, best_at = b, eff, head[1], at
      end
    end
  end
  if best == nil then
    return nil
  end
  local rotation, turns, ages, prefix = band_keys(best)
  local client = redis.call('LINDEX', rotation, 0)
  if best_eff < best - 1 or not client then
    return take_oldest(best, best_member)
  end
  local lane = prefix .. client
  local id = redis.call('LPOP', lane)
  if not id then  -- a rotation entry without work (not expected): drop it, take the band's oldest
    leave_if_empty(best, client, lane)
    return take_oldest(best, best_member)
  end
  redis.call('ZREM', ages, client .. '\t' .. id)
  if not leave_if_empty(best, client, lane) then
    local weight = tonumber(redis.call('HGET', KEYS[7], client) or '1') or 1
    if redis.call('HINCRBY', turns, client, 1) >= weight then
      redis.call('HDEL', turns, client)
      redis.call('LMOVE', rotation, rotation, 'LEFT', 'RIGHT')
    end
  end
  return id
end

local ids = {}
local wanted = tonumber(ARGV[4])
while #ids < wanted do
  local id = redis.call('LPOP', KEYS[1])
  if not id then
    id = take_lane()
    if id then
      redis.call('LPOP', KEYS[17])
    end
  end
  if not id then
    break
  end
  ids[#ids + 1] = id
  redis.call('SADD', KEYS[3], id)
end
if #ids == 0 then
  return {}
end
return redis.call('HMGET', KEYS[2], unpack(ids))
