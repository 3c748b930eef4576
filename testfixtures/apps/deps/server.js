const http = require('http');
http.createServer((req, res) => res.end('hello from deps\n')).listen(process.env.PORT || 5000);
