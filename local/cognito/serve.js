// Starts the repository's pinned cognito-local in the working directory, whose
// .cognito/config.json the Go side wrote; HOST and PORT come from the
// environment. It exits when its parent closes stdin, so a crashed parent
// leaves no orphan.
require('cognito-local/lib/bin/start.js')
const stop = () => process.exit(0)
process.stdin.on('end', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
