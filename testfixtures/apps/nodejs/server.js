// The Node.js fixture app: answers every request with the greeting that the
// build script wrote, escaped with its one runtime dependency.
const http = require("http");
const fs = require("fs");
const escapeHtml = require("escape-html");

const greeting = fs.readFileSync(__dirname + "/greeting.txt", "utf8");
const port = process.env.PORT || 5000;
http
  .createServer((req, res) => {
    res.setHeader("Content-Type", "text/plain");
    res.end(escapeHtml(greeting) + "\n");
  })
  .listen(port, () => console.log("listening on " + port));
