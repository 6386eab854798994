-- Add fields to a txId record that still exists (called by BillrunStore.set_order_id beside it):
-- an expired record is never brought back without its TTL.
local record_key = KEYS[1]        -- stripay:billrun:<txId>
local fields_from = 1             -- all of ARGV: field, value, field, value, ...

if redis.call('EXISTS', record_key) == 0 then return 0 end
redis.call('HSET', record_key, unpack(ARGV, fields_from))
return 1
