-- Shared by the miltertest scripts: connect to MailSentra's milter (port given with -D port=N) and report
-- a client, sender, recipients and DATA. Unknown commands, which MailSentra asked the MTA to skip, are not
-- sent, as an MTA would not send them.
function open_message(rcpts, queue_id)
  local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 20, 0.25)
  if conn == nil then error("cannot connect to the milter") end
  mt.set_timeout(30)
  check(mt.conninfo(conn, "client.example.org", "192.0.2.44"), "conninfo")
  check(mt.helo(conn, "client.example.org"), "helo")
  mt.macro(conn, SMFIC_MAIL, "i", queue_id)
  check(mt.mailfrom(conn, "<alice@example.org>"), "mailfrom")
  for _, r in ipairs(rcpts) do check(mt.rcptto(conn, "<" .. r .. ">"), "rcptto " .. r) end
  check(mt.data(conn), "data")
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("DATA was not answered with continue") end
  return conn
end

function check(err, what)
  if err ~= nil then error(what .. " failed: " .. err) end
end

-- Sends a file (headers, empty line, body) as header and body commands.
function send_file(conn, path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local head, body = text:match("^(.-)\r\n\r\n(.*)$")
  local fields = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    if line:match("^[ \t]") and #fields > 0 then
      fields[#fields] = fields[#fields] .. "\r\n" .. line
    else
      table.insert(fields, line)
    end
  end
  for _, field in ipairs(fields) do
    local name, value = field:match("^([^:]+):%s*(.*)$")
    if name then check(mt.header(conn, name, value), "header " .. name) end
  end
  check(mt.eoh(conn), "eoh")
  local at = 1
  while at <= #body do
    check(mt.bodystring(conn, body:sub(at, at + 65534)), "body")
    at = at + 65535
  end
  check(mt.eom(conn), "eom")
end
