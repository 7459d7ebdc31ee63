// node_modules holds a few .go files (e.g. flatted/golang). The repository is one Go module, so `go test ./...`
// and `go vet ./...` from the root would treat them as our packages. A go.mod here makes node_modules a module of
// its own, which `./...` patterns do not enter.
const fs = require('fs');
const path = require('path');

const dir = path.join(__dirname, '..', 'node_modules');
if (fs.existsSync(dir)) {
  fs.writeFileSync(path.join(dir, 'go.mod'), 'module hazewatch.invalid/node_modules\n\ngo 1.21\n');
}
