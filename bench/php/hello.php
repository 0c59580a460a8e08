<?php
header('Content-Type: text/html; charset=utf-8');
echo "Hello, World!\n";
