-- Store an order state if it is newer than the stored one (called by OrderStore.apply beside it).
-- State, history entry, transitions stream entry and (when job_id is given) the delivery
-- job are written together: an older or equal updatedAt never overwrites the stored state.
local order_key = KEYS[1]         -- stripay:order:<id>; hash of the current state
local history_key = KEYS[2]       -- stripay:history:<id>; list of transitions (JSON)
local transitions_key = KEYS[3]   -- stripay:transitions stream
local job_key = KEYS[4]           -- rq:job:<job id> of the delivery job ("-" when none)
local queue_key = KEYS[5]         -- rq:queue:stripay
local queues_set = KEYS[6]        -- rq:queues
local updated_ms = ARGV[1]        -- the candidate's updatedAt in epoch milliseconds
local status = ARGV[2]
local state_json = ARGV[3]        -- the API's order as JSON
local source = ARGV[4]            -- what brought the state (notify, poll, sweep, return)
local applied_at = ARGV[5]
local event_id = ARGV[6]
local order_id = ARGV[7]
local updated_at = ARGV[8]        -- the candidate's updatedAt as Stripay wrote it
local transitions_max_len = ARGV[9]
local job_id = ARGV[10]           -- delivery job id, '' for none; its hash fields are ARGV[11..]
local job_fields_from = 11

local new_ms = tonumber(updated_ms)
local current = redis.call('HMGET', order_key, 'updated_ms', 'status')
local cur_ms = tonumber(current[1])
local cur_status = current[2]
if cur_ms then
  if new_ms < cur_ms then return {'stale', cur_status} end
  if new_ms == cur_ms then
    if cur_status == status then return {'unchanged', cur_status} end
    return {'stale', cur_status}
  end
end
redis.call('HSET', order_key, 'updated_ms', updated_ms, 'status', status, 'updated_at', updated_at,
           'state', state_json, 'source', source, 'applied_at', applied_at, 'order_id', order_id)
local from = cur_status or ''
if from == status then return {'updated', from} end
local entry = cjson.encode({['from'] = (cur_status or cjson.null), ['to'] = status,
                            ['at'] = updated_at, ['source'] = source, ['event_id'] = event_id})
redis.call('RPUSH', history_key, entry)
redis.call('XADD', transitions_key, 'MAXLEN', '~', transitions_max_len, '*',
           'event_id', event_id, 'order_id', order_id, 'from', from, 'to', status,
           'at', updated_at, 'source', source, 'applied_at', applied_at, 'order', state_json)
if job_id ~= '' then
  redis.call('HSET', job_key, unpack(ARGV, job_fields_from))
  redis.call('RPUSH', queue_key, job_id)
  redis.call('SADD', queues_set, queue_key)
end
return {'applied', from}
