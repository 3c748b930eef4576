const express = require("express");

const app = express();
app.get("/", (req, res) => {
  res.type("text/plain").send(`hello from express ${require("express/package.json").version}\n`);
});
app.listen(process.env.PORT || 5000, () => {
  console.log(`listening on ${process.env.PORT || 5000}`);
});
