-- Ham passes with our headers; a forged X-Spam-Flag is deleted; the message is accepted.
dofile(dir .. "/common.lua")
local conn = open_message({ "bob@example.net" }, "MTHAM")
check(mt.header(conn, "X-Spam-Flag", "NO"), "forged header")
send_file(conn, ham)
if mt.getreply(conn) ~= SMFIR_ACCEPT then error("ham: expected ACCEPT") end
if not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag") then error("ham: no X-Spam-Flag added") end
if not mt.eom_check(conn, MT_HDRADD, "X-MailSentra-Id") then error("ham: no X-MailSentra-Id added") end
local flag = mt.getheader(conn, "X-Spam-Flag", 0)
if flag == nil or not flag:match("NO") then error("ham: X-Spam-Flag is " .. tostring(flag)) end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag") and not mt.eom_check(conn, MT_HDRCHANGE, "X-Spam-Flag") then
  error("ham: the forged X-Spam-Flag was left")
end
mt.disconnect(conn)
