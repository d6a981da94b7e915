-- Counts the words of the input; prints the most frequent ones to the log.
return function (input)
  local counts, total = {}, 0
  for word in input:lower():gmatch("%a+") do
    counts[word] = (counts[word] or 0) + 1
    total = total + 1
  end
  local words = {}
  for word in pairs(counts) do words[#words + 1] = word end
  table.sort(words, function (a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  for i = 1, math.min(3, #words) do print(words[i], counts[words[i]]) end
  return total
end
