-- Spam for a recipient of the default policy is quarantined: the MTA is told to discard its copy.
dofile(dir .. "/common.lua")
local conn = open_message({ "carol@example.net" }, "MTSPAM")
send_file(conn, spam)
if mt.getreply(conn) ~= SMFIR_DISCARD then error("spam: expected DISCARD") end
mt.disconnect(conn)
