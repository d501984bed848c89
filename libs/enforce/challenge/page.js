(function(){
"use strict";
// Proof of work: find a counter such that SHA-256(nonce ":" counter) starts
// with BITS zero bits. Hand-written SHA-256 (one block, first word only):
// crypto.subtle is missing on plain-HTTP origins and costs a promise per
// hash; this runs some 400,000 hashes a second on a shared server core.
var NONCE=__NONCE__,BITS=__BITS__,INTERACTIVE=__INTERACTIVE__,DONE=__DONE__,PRESS=__PRESS__,WIDGET=__WIDGET__;
var t0=performance.now(),f=document.getElementById("f"),st=document.getElementById("s");
function env(){
  var need=["fetch","Promise","requestAnimationFrame","Intl","localStorage","WebSocket","history","matchMedia"],miss=[];
  for(var i=0;i<need.length;i++){try{if(!(need[i] in window))miss.push(need[i])}catch(e){miss.push(need[i])}}
  return JSON.stringify({wd:!!navigator.webdriver,ua:navigator.userAgent,langs:(navigator.languages||[]).length,scr:[screen.width|0,screen.height|0],missing:miss});
}
f.elements.env.value=env();
if(WIDGET)return;
var K=[],H0=[];
(function(){var n=2,c=0;function prime(n){for(var d=2;d*d<=n;d++)if(n%d===0)return false;return true}
function fr(x){return((x-Math.floor(x))*4294967296)|0}
while(c<64){if(prime(n)){if(c<8)H0[c]=fr(Math.pow(n,1/2));K[c]=fr(Math.pow(n,1/3));c++}n++}})();
var w=new Int32Array(64);
function first(s){
  var i,l=s.length;for(i=0;i<16;i++)w[i]=0;
  for(i=0;i<l;i++)w[i>>2]|=s.charCodeAt(i)<<(24-(i&3)*8);
  w[l>>2]|=0x80<<(24-(l&3)*8);w[15]=l*8;
  for(i=16;i<64;i++){var x=w[i-15],y=w[i-2];w[i]=(w[i-16]+((x>>>7|x<<25)^(x>>>18|x<<14)^(x>>>3))+w[i-7]+((y>>>17|y<<15)^(y>>>19|y<<13)^(y>>>10)))|0}
  var a=H0[0],b=H0[1],c=H0[2],d=H0[3],e=H0[4],g=H0[5],h=H0[6],k=H0[7];
  for(i=0;i<64;i++){
    var t1=(k+((e>>>6|e<<26)^(e>>>11|e<<21)^(e>>>25|e<<7))+((e&g)^(~e&h))+K[i]+w[i])|0;
    var t2=(((a>>>2|a<<30)^(a>>>13|a<<19)^(a>>>22|a<<10))+((a&b)^(a&c)^(b&c)))|0;
    k=h;h=g;g=e;e=(d+t1)|0;d=c;c=b;b=a;a=(t1+t2)|0}
  return (H0[0]+a)>>>0;
}
var pre=NONCE+":",n=0,found=-1,pressed=!INTERACTIVE,moves=[],press=0,hold=0,kd=0;
function finish(){
  if(found<0||!pressed)return;
  f.elements.counter.value=String(found);
  if(INTERACTIVE)f.elements.ix.value=JSON.stringify({moves:moves,press:press,keyhold:hold});
  st.textContent=DONE;f.submit();
}
function step(){
  var end=n+50000;
  for(;n<end;n++){if((first(pre+n)>>>(32-BITS))===0){found=n;break}}
  if(found>=0){var p=document.getElementById("p");if(p){p.max=1;p.value=1}if(!pressed)st.textContent=PRESS;finish()}else setTimeout(step,0);
}
if(INTERACTIVE){
  var b=document.getElementById("b");
  document.addEventListener("pointermove",function(){if(moves.length<200)moves.push(Math.round(performance.now()-t0))});
  b.addEventListener("keydown",function(ev){if(ev.key==="Enter"||ev.key===" ")kd=performance.now()});
  // Enter clicks on keydown, Space on keyup: a keyboard press is complete
  // (and its hold time known) at keyup.
  b.addEventListener("keyup",function(ev){if(kd&&(ev.key==="Enter"||ev.key===" ")){hold=Math.max(1,Math.round(performance.now()-kd));finish()}});
  b.addEventListener("click",function(){if(pressed)return;pressed=true;press=Math.round(performance.now()-t0);b.disabled=true;if(found<0)st.textContent=__WORKING__;if(!kd)setTimeout(finish,0)});
}
setTimeout(step,0);
})();
