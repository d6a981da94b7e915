-- Sorts the numbers of the input (separated by spaces or commas) and returns them one per line.
return function (input)
  local numbers = {}
  for item in input:gmatch("[^%s,]+") do
    local n = tonumber(item)
    if n == nil then error("not a number: " .. item) end
    numbers[#numbers + 1] = n
  end
  table.sort(numbers)
  return table.concat(numbers, "\n")
end
