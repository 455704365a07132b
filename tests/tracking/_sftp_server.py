"""A real SFTP server for the tests: paramiko's SSH transport and SFTP subsystem on 127.0.0.1, serving one local
directory to one user with a password, under a freshly generated host key. Test-only, not part of tracklet."""

from __future__ import annotations

import os
import socket
import threading

import paramiko
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_OK


class _Auth(paramiko.ServerInterface):
    def __init__(self, user: str, password: str):
        self.user, self.password = user, password

    def check_auth_password(self, username, password):
        ok = (username, password) == (self.user, self.password)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "password"

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    def stat(self):
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)


def _sftp_interface(root: str):
    class Files(paramiko.SFTPServerInterface):
        def _local(self, path: str) -> str:
            return os.path.join(root, self.canonicalize(path).lstrip("/"))

        def _wrap(self, fn, *args):
            try:
                fn(*args)
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)
            return SFTP_OK

        def list_folder(self, path):
            local = self._local(path)
            try:
                out = []
                for name in os.listdir(local):
                    attr = paramiko.SFTPAttributes.from_stat(os.lstat(os.path.join(local, name)))
                    attr.filename = name
                    out.append(attr)
                return out
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)

        def stat(self, path):
            try:
                return paramiko.SFTPAttributes.from_stat(os.stat(self._local(path)))
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)

        def lstat(self, path):
            try:
                return paramiko.SFTPAttributes.from_stat(os.lstat(self._local(path)))
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)

        def open(self, path, flags, attr):
            local = self._local(path)
            try:
                fd = os.open(local, flags | getattr(os, "O_BINARY", 0), 0o666)
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)
            if flags & os.O_WRONLY:
                mode = "ab" if flags & os.O_APPEND else "wb"
            elif flags & os.O_RDWR:
                mode = "a+b" if flags & os.O_APPEND else "r+b"
            else:
                mode = "rb"
            handle = _Handle(flags)
            handle.filename = local
            handle.readfile = handle.writefile = os.fdopen(fd, mode)
            return handle

        def remove(self, path):
            return self._wrap(os.remove, self._local(path))

        def rename(self, oldpath, newpath):
            new = self._local(newpath)
            if os.path.exists(new):
                return paramiko.sftp.SFTP_FAILURE
            return self._wrap(os.rename, self._local(oldpath), new)

        def posix_rename(self, oldpath, newpath):
            return self._wrap(os.replace, self._local(oldpath), self._local(newpath))

        def mkdir(self, path, attr):
            return self._wrap(os.mkdir, self._local(path))

        def rmdir(self, path):
            return self._wrap(os.rmdir, self._local(path))

        def chattr(self, path, attr):
            return SFTP_OK if os.path.exists(self._local(path)) else SFTP_NO_SUCH_FILE

    return Files


class SFTPServer:
    """``with SFTPServer(root, "user", "pw") as srv:`` -> ``srv.port``, ``srv.known_hosts_line``."""

    def __init__(self, root: str, user: str, password: str):
        self.root, self.user, self.password = root, user, password
        self.key = paramiko.ECDSAKey.generate()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._transports: list[paramiko.Transport] = []
        self._stop = threading.Event()

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.key.get_name()} {self.key.get_base64()}\n"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _sftp_interface(self.root))
            transport.start_server(server=_Auth(self.user, self.password))
            self._transports.append(transport)

    def __enter__(self) -> SFTPServer:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._transports:
            t.close()
        self._sock.close()
