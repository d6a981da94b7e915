-- fib(N) by plain recursion: a CPU-bound function. Input: N (default 20).
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

return function (input)
  local n = tonumber(input) or 20
  return fib(n)
end
