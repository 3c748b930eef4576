// The build script: writes greeting.txt, which the server reads, so a test
// sees that `npm run build` ran. It uses the dev dependency, which the
// buildpack prunes afterwards.
const fs = require("fs");
const isNumber = require("is-number");
fs.writeFileSync("greeting.txt", isNumber(1) ? "hello from nodejs" : "broken");
