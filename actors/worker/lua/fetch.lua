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
-- KEYS[17] the queue's lane tokens list (one per message in its lanes; an autoscaler reads its length),
-- KEYS[18] the queue's wake-up list (a submit wakes a consumer only when its queue was empty: a fetch that takes
-- all it asked for may leave messages behind, so it wakes the next consumer), KEYS[19] the live-settings version
-- ARGV[1] queue, ARGV[2] broker id, ARGV[3] now ms (the caller's clock, as Dramatiq's dispatch takes it), ARGV[4] how many, ARGV[5] host ('' = never drained),
-- ARGV[6] aging ms, ARGV[7..9] per band: the prefix of its lanes (the client's name follows), ARGV[10] '1' to
-- write the consumer's Dramatiq heartbeat (the caller asks about once a second: Dramatiq counts a consumer
-- dead after a minute without one), else '0', ARGV[11] wake-up tokens kept
-- returns the encoded messages (HMGET of the ids taken; nil for an id whose message is gone) followed by the
-- live-settings version (nil when never set), or {} when nothing was taken
-- The script is atomic, so what it has read stays true until it returns: the queue's list is popped once (with
-- a count), the lane tokens are popped once (as many as are wanted: none skips the lanes; a token the lanes
-- could not back is put back), each band's head and rotation head are read once and again only
-- after this script changed them, a client's weight once; the ack set and the lane tokens are written once.
local now = tonumber(ARGV[3])
if ARGV[10] ~= '0' then
  redis.call('ZADD', KEYS[4], now, ARGV[2])
end
-- One read for the usual case, "quiet": nothing paused or drained, nothing on the queue's own list, and no work
-- in the high and low bands (every submit in the normal band). Then the pause checks, the list's pop and those
-- bands' heads are skipped, and a lone client's lane is taken without reading its band's head (the lane is in
-- submit order, so its head is the band's oldest: aging cannot reorder it).
local quiet = redis.call('EXISTS', KEYS[5], KEYS[6], KEYS[1], KEYS[10], KEYS[16]) == 0
if not quiet and redis.call('EXISTS', KEYS[5], KEYS[6]) > 0 then  -- (one read while nothing is paused or drained)
  if redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then
    return {}
  end
  if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[6], ARGV[5]) == 1 then
    return {}
  end
end
local aging = tonumber(ARGV[6])
local wanted = tonumber(ARGV[4])
local asked = wanted
local ids = {}
if wanted <= 0 then
  return {}
end

local own = (not quiet) and redis.call('LPOP', KEYS[1], wanted)
if own then
  for _, id in ipairs(own) do
    ids[#ids + 1] = id
  end
end

local function band_keys(b)
  return KEYS[5 + 3 * b], KEYS[6 + 3 * b], KEYS[7 + 3 * b], ARGV[6 + b]
end

local all_tokens = false  -- whether this take popped every lane token (set below, before any lane is read)
local heads = {}      -- band -> {member, score} of its ages zset's head, or false when empty (nil: not read)
if quiet then
  heads[1], heads[3] = false, false
end
local rotations = {}  -- band -> its rotation's first client, or false when empty (nil: not read)
local weights = {}    -- client -> weight

local function head(b)
  if heads[b] == nil then
    local _, _, ages = band_keys(b)
    local found = redis.call('ZRANGE', ages, 0, 0, 'WITHSCORES')
    heads[b] = found[1] and {found[1], tonumber(found[2])} or false
  end
  return heads[b]
end

local alone = {}      -- band -> whether its first client is the only one (its takes then count no turn)

local function first_client(b)
  if rotations[b] == nil then
    local rotation = band_keys(b)
    local found = redis.call('LRANGE', rotation, 0, 1)
    rotations[b] = found[1] or false
    alone[b] = found[2] == nil
  end
  return rotations[b]
end

local function weight_of(client)
  if weights[client] == nil then
    weights[client] = tonumber(redis.call('HGET', KEYS[7], client) or '1') or 1
  end
  return weights[client]
end

local function leave_if_empty(b, client, lane)
  if redis.call('LLEN', lane) == 0 then
    local rotation, turns = band_keys(b)
    redis.call('LREM', rotation, 0, client)
    redis.call('HDEL', turns, client)
    rotations[b] = nil
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
  heads[b] = nil
  leave_if_empty(b, client, lane)
  return id
end

local function only_band(b)  -- whether the other bands are empty (their heads are read, once)
  for other = 1, 3 do
    if other ~= b and head(other) then
      return false
    end
  end
  return true
end

-- The band is the only one with work and its client the only one in its rotation: the next messages in
-- order are the lane's head, whatever the ages (one client's lane is in its submit order), and a lone client's
-- take counts no turn (its weight is not read: its turn starts when another client joins). So the rest wanted
-- is popped at once (one LPOP with a count, one ZREM); a short pop shows the lane empty, and so does a full one
-- when the tokens were all popped (the lane then held every message of the queue's lanes).
local function take_run(b, client, lane)
  local _, turns, ages = band_keys(b)
  local asked = wanted - #ids
  local taken = redis.call('LPOP', lane, asked)
  if not taken then
    leave_if_empty(b, client, lane)
    return {}
  end
  local members = {}
  for i, id in ipairs(taken) do
    members[i] = client .. '\t' .. id
  end
  redis.call('ZREM', ages, unpack(members))
  heads[b] = nil
  if #taken < asked or all_tokens then  -- the lane is empty: the client leaves the rotation
    local rotation = band_keys(b)
    redis.call('LREM', rotation, 0, client)
    redis.call('HDEL', turns, client)
    rotations[b] = nil
  else
    leave_if_empty(b, client, lane)
  end
  return taken
end

local function take_lane()
  if quiet then  -- only the normal band has work: a lone client's lane is the band's order
    local _, _, _, prefix = band_keys(2)
    local client = first_client(2)
    if client and alone[2] then
      return take_run(2, client, prefix .. client)
    end
  end
  local best, best_eff, best_member, best_at
  for b = 1, 3 do
    local found = head(b)
    if found then
      local at = found[2]
      local eff = (b - 1) - math.floor((now - at) / aging)
      if eff < 0 then eff = 0 end
      -- the best effective priority; on a tie the band whose oldest waited longer (an aged low is not
      -- starved by a stream of fresh highs), then the higher band
      if best == nil or eff < best_eff or (eff == best_eff and at < best_at) then
        best, best_eff, best_member, best_at = b, eff, found[1], at
      end
    end
  end
  if best == nil then
    return nil
  end
  local rotation, turns, ages, prefix = band_keys(best)
  local client = first_client(best)
  if best_eff < best - 1 or not client then
    return {take_oldest(best, best_member)}
  end
  local lane = prefix .. client
  if alone[best] and only_band(best) then
    return take_run(best, client, lane)
  end
  local id = redis.call('LPOP', lane)
  if not id then  -- a rotation entry without work (not expected): drop it, take the band's oldest
    leave_if_empty(best, client, lane)
    return {take_oldest(best, best_member)}
  end
  local member = client .. '\t' .. id
  redis.call('ZREM', ages, member)
  if best_member == member then
    heads[best] = nil
  end
  if not leave_if_empty(best, client, lane) and not alone[best] then  -- a lone client's take is no turn
    local weight = weight_of(client)
    if weight <= 1 or redis.call('HINCRBY', turns, client, 1) >= weight then
      if weight > 1 then
        redis.call('HDEL', turns, client)
      end
      redis.call('LMOVE', rotation, rotation, 'LEFT', 'RIGHT')
      rotations[best] = nil
    end
  end
  return {id}
end

-- one token per message in the lanes: popping as many as are wanted tells how many the lanes can give
local tokens = 0
if #ids < wanted then
  local popped = redis.call('LPOP', KEYS[17], wanted - #ids)
  tokens = popped and #popped or 0
  all_tokens = tokens < wanted - #ids
end
if tokens > 0 then
  local from_lanes = 0
  wanted = #ids + tokens
  while #ids < wanted do
    local taken = take_lane()
    if not taken or #taken == 0 then
      break
    end
    for _, id in ipairs(taken) do
      ids[#ids + 1] = id
    end
    from_lanes = from_lanes + #taken
  end
  if from_lanes < tokens then  -- (not expected: tokens without lane entries) what was not taken is put back
    local back = {}
    for i = 1, tokens - from_lanes do
      back[i] = 1
    end
    redis.call('LPUSH', KEYS[17], unpack(back))
  end
end
if #ids == 0 then
  return {}
end
-- (a list already holding the tokens kept, as it does under a stream of submits, is read, not pushed and trimmed)
if #ids >= asked and redis.call('LLEN', KEYS[18]) < tonumber(ARGV[11]) then
  redis.call('LPUSH', KEYS[18], 1)
end
redis.call('SADD', KEYS[3], unpack(ids))
local taken = redis.call('HMGET', KEYS[2], unpack(ids))
taken[#taken + 1] = redis.call('GET', KEYS[19])
return taken
