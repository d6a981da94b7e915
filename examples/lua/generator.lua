-- Uses coroutines as generators: the first N primes (input N, default 10), space-separated.
local function primes()
  return coroutine.wrap(function ()
    local found = {}
    local candidate = 2
    while true do
      local prime = true
      for _, p in ipairs(found) do
        if p * p > candidate then break end
        if candidate % p == 0 then prime = false break end
      end
      if prime then
        found[#found + 1] = candidate
        coroutine.yield(candidate)
      end
      candidate = candidate + 1
    end
  end)
end

return function (input)
  local n = tonumber(input) or 10
  local out, next_prime = {}, primes()
  for i = 1, n do out[i] = next_prime() end
  return table.concat(out, " ")
end
