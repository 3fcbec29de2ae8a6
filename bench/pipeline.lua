-- wrk script: sends DEPTH (default 16) GET / requests back to back per write, so every
-- connection keeps DEPTH requests in flight. Usage: wrk -s bench/pipeline.lua URL -- 16
init = function(args)
   local depth = tonumber(args[1]) or 16
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format(nil, "/")
   end
   req = table.concat(r)
end

request = function()
   return req
end
