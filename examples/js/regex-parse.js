// regex-parse.js: input lines of an access log ("IP - - [date] "METHOD path HTTP/x" status bytes");
// output requests per status class and the top paths, parsed with a regular expression.
const kLine = /^(?<ip>\d{1,3}(?:\.\d{1,3}){3}) \S+ \S+ \[(?<date>[^\]]+)\] "(?<method>[A-Z]+) (?<path>\S+) HTTP\/[\d.]+" (?<status>\d{3}) (?<bytes>\d+|-)$/;

export default function (input) {
  const statusClasses = {};
  const paths = {};
  let bytes = 0;
  let malformed = 0;
  for (const line of input.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const match = kLine.exec(line);
    if (match === null) { malformed++; continue; }
    const { path, status } = match.groups;
    const statusClass = `${status[0]}xx`;
    statusClasses[statusClass] = (statusClasses[statusClass] ?? 0) + 1;
    paths[path.replace(/\?.*$/, '')] = (paths[path.replace(/\?.*$/, '')] ?? 0) + 1;
    if (match.groups.bytes !== '-') bytes += Number(match.groups.bytes);
  }
  const topPaths = Object.entries(paths).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
  return { statusClasses, topPaths, bytes, malformed };
}
