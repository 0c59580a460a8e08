-- wrk script of the session case (bench/run.py): each wrk thread keeps a
-- pool of VISITORS visitors. Until the pool is full a request has no cookie
-- and the id the server sets is kept; after that the requests go round the
-- pool, so each one reads and writes a stored session, and two requests of
-- one session rarely meet. The hello reference runs with this script too,
-- so that wrk's own cost is the same (hello.py sets no cookie).
local VISITORS = 256
local ids = {}
local turn = 0

request = function()
  if #ids < VISITORS then
    return wrk.format()
  end
  turn = turn % VISITORS + 1
  return wrk.format(nil, nil, {["Cookie"] = "HTTPOUTSESSID=" .. ids[turn]})
end

response = function(status, headers, body)
  local cookie = headers["Set-Cookie"]
  if cookie and #ids < VISITORS then
    local id = cookie:match("^HTTPOUTSESSID=([%w_-]+)")
    if id then
      ids[#ids + 1] = id
    end
  end
end
