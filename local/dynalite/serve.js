// Starts dynalite on a loopback port (DYNALITE_PORT, or a free one) and prints
// "listening <port>".
// It exits when its parent closes stdin, so a crashed parent leaves no orphan.
const dynalite = require('dynalite')
const opts = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }
if (process.env.DYNALITE_PATH) opts.path = process.env.DYNALITE_PATH
const server = dynalite(opts)
server.listen(Number(process.env.DYNALITE_PORT || 0), '127.0.0.1', () => console.log('listening ' + server.address().port))
// Keep-alive connections from clients would hold close() open: end them too.
const stop = () => {
  server.close(() => process.exit(0))
  if (server.closeAllConnections) server.closeAllConnections()
}
process.stdin.on('end', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
