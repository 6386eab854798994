// Stripay's genSign, verbatim from its API documentation, run by Node on
// JSON.parse(body). Reads one JSON array [key, body] per line on stdin and
// prints one md5 hex digest per line.
const crypto = require('crypto');
const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
function genSign (key, data) {
  let signStr = ''
  Object.keys(data).sort().forEach(key => {
    if (key === 'sign') { return }
    const value = data[key]
    if (value === '' || value == null) { return }
    signStr += value
  })
  return md5(signStr + key)
}
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const line of lines) {
  const [key, body] = JSON.parse(line);
  process.stdout.write(genSign(key, JSON.parse(body)) + '\n');
}
