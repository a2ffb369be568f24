#include "textflag.h"

// func mulAddRowsAVX2(w *float32, rows, cols int, x, y *float64)
// For each row i: four partial sums s += w[i,j:j+4]*x[j:j+4] (the weights
// widened to float64, multiply, then add), then y[i] += (s0+s2)+(s1+s3).
// Four rows at a time share the loads of x; the rows left over go one at
// a time.
TEXT ·mulAddRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ cols+16(FP), DX
	MOVQ x+24(FP), R9
	MOVQ y+32(FP), DI
	MOVQ DX, R13
	SHLQ $2, R13             // a row of w, in bytes
	XORQ R10, R10            // row

mul4:
	MOVQ CX, AX
	SUBQ R10, AX
	CMPQ AX, $4
	JLT  mulrow
	LEAQ (SI)(R13*1), BX     // row i+1
	LEAQ (SI)(R13*2), R12    // row i+2
	LEAQ (BX)(R13*2), R14    // row i+3
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   R8, R8

mul4col:
	CMPQ    R8, DX
	JGE     mul4sum
	VMOVUPD (R9)(R8*8), Y4
	VCVTPS2PD (SI)(R8*4), Y5
	VMULPD  Y5, Y4, Y5
	VADDPD  Y5, Y0, Y0
	VCVTPS2PD (BX)(R8*4), Y6
	VMULPD  Y6, Y4, Y6
	VADDPD  Y6, Y1, Y1
	VCVTPS2PD (R12)(R8*4), Y7
	VMULPD  Y7, Y4, Y7
	VADDPD  Y7, Y2, Y2
	VCVTPS2PD (R14)(R8*4), Y8
	VMULPD  Y8, Y4, Y8
	VADDPD  Y8, Y3, Y3
	ADDQ    $4, R8
	JMP     mul4col

mul4sum:
	VEXTRACTF128 $1, Y0, X5
	VADDPD       X5, X0, X0  // row i: (s0+s2, s1+s3)
	VEXTRACTF128 $1, Y1, X6
	VADDPD       X6, X1, X1
	VEXTRACTF128 $1, Y2, X7
	VADDPD       X7, X2, X2
	VEXTRACTF128 $1, Y3, X8
	VADDPD       X8, X3, X3
	VHADDPD      X1, X0, X0  // rows i, i+1: (s0+s2)+(s1+s3)
	VHADDPD      X3, X2, X2  // rows i+2, i+3
	VMOVUPD      (DI)(R10*8), X4
	VADDPD       X4, X0, X0
	VMOVUPD      X0, (DI)(R10*8)
	VMOVUPD      16(DI)(R10*8), X4
	VADDPD       X4, X2, X2
	VMOVUPD      X2, 16(DI)(R10*8)
	LEAQ         (SI)(R13*4), SI
	ADDQ         $4, R10
	JMP          mul4

mulrow:
	CMPQ R10, CX
	JGE  muldone
	VXORPD Y0, Y0, Y0
	XORQ   R8, R8

mulcol:
	CMPQ    R8, DX
	JGE     mulsum
	VCVTPS2PD (SI)(R8*4), Y1
	VMULPD  (R9)(R8*8), Y1, Y1
	VADDPD  Y1, Y0, Y0
	ADDQ    $4, R8
	JMP     mulcol

mulsum:
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0      // (s0+s2, s1+s3)
	VUNPCKHPD    X0, X0, X1      // s1+s3
	VADDSD       X1, X0, X0      // (s0+s2)+(s1+s3)
	VADDSD       (DI)(R10*8), X0, X0
	VMOVSD       X0, (DI)(R10*8)
	LEAQ         (SI)(DX*4), SI
	INCQ         R10
	JMP          mulrow

muldone:
	VZEROUPPER
	RET

// func mulAddRowsTAVX2(w *float32, rows, cols int, d, y *float64)
// y += d[i]*w[i,:] for each row i in order (the weights widened to
// float64, multiply, then add), sixteen columns of y at a time held in
// registers, then four at a time.
TEXT ·mulAddRowsTAVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ cols+16(FP), DX
	MOVQ d+24(FP), R11
	MOVQ y+32(FP), DI
	MOVQ DX, R13
	SHLQ $2, R13             // a row of w, in bytes
	XORQ R8, R8              // first column of the chunk

tchunk:
	MOVQ DX, R9
	SUBQ R8, R9
	CMPQ R9, $16
	JLT  tsingle
	LEAQ (DI)(R8*8), R12
	VMOVUPD 0(R12), Y0
	VMOVUPD 32(R12), Y1
	VMOVUPD 64(R12), Y2
	VMOVUPD 96(R12), Y3
	LEAQ (SI)(R8*4), BX
	XORQ R10, R10

trow4:
	CMPQ R10, CX
	JGE  trow4done
	VBROADCASTSD (R11)(R10*8), Y4
	VCVTPS2PD 0(BX), Y5
	VMULPD Y5, Y4, Y5
	VADDPD Y5, Y0, Y0
	VCVTPS2PD 16(BX), Y6
	VMULPD Y6, Y4, Y6
	VADDPD Y6, Y1, Y1
	VCVTPS2PD 32(BX), Y7
	VMULPD Y7, Y4, Y7
	VADDPD Y7, Y2, Y2
	VCVTPS2PD 48(BX), Y8
	VMULPD Y8, Y4, Y8
	VADDPD Y8, Y3, Y3
	ADDQ R13, BX
	INCQ R10
	JMP  trow4

trow4done:
	VMOVUPD Y0, 0(R12)
	VMOVUPD Y1, 32(R12)
	VMOVUPD Y2, 64(R12)
	VMOVUPD Y3, 96(R12)
	ADDQ $16, R8
	JMP  tchunk

tsingle:
	CMPQ R8, DX
	JGE  tdone
	LEAQ (DI)(R8*8), R12
	VMOVUPD (R12), Y0
	LEAQ (SI)(R8*4), BX
	XORQ R10, R10

trow1:
	CMPQ R10, CX
	JGE  trow1done
	VBROADCASTSD (R11)(R10*8), Y4
	VCVTPS2PD (BX), Y5
	VMULPD Y5, Y4, Y5
	VADDPD Y5, Y0, Y0
	ADDQ R13, BX
	INCQ R10
	JMP  trow1

trow1done:
	VMOVUPD Y0, (R12)
	ADDQ $4, R8
	JMP  tsingle

tdone:
	VZEROUPPER
	RET

// func rankSumAVX2(sum *float64, rows, cols int, d, a *float64, k int)
// g[i,j] = 0 + d_0[i]*a_0[j] + ... in pass order (multiply, then add), with
// d_p = d[p*rows:] and a_p = a[p*cols:]; sixteen columns of a row at a
// time held in registers, then four at a time.
TEXT ·rankSumAVX2(SB), NOSPLIT, $0-48
	MOVQ sum+0(FP), DI
	MOVQ rows+8(FP), CX
	MOVQ cols+16(FP), DX
	MOVQ d+24(FP), R11
	MOVQ a+32(FP), R9
	MOVQ k+40(FP), R14
	MOVQ DX, R13
	SHLQ $3, R13             // a row of g and a pass of a, in bytes
	MOVQ CX, SI
	SHLQ $3, SI              // a pass of d, in bytes
	XORQ R8, R8              // first column of the chunk

rchunk:
	MOVQ DX, AX
	SUBQ R8, AX
	CMPQ AX, $16
	JLT  rsingle
	XORQ R10, R10            // row

rrow4:
	CMPQ   R10, CX
	JGE    rrow4done
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	LEAQ   (R11)(R10*8), BX
	LEAQ   (R9)(R8*8), R12
	XORQ   AX, AX            // pass

rpass4:
	CMPQ AX, R14
	JGE  rpass4done
	VBROADCASTSD (BX), Y4
	VMULPD 0(R12), Y4, Y5
	VADDPD Y5, Y0, Y0
	VMULPD 32(R12), Y4, Y6
	VADDPD Y6, Y1, Y1
	VMULPD 64(R12), Y4, Y7
	VADDPD Y7, Y2, Y2
	VMULPD 96(R12), Y4, Y8
	VADDPD Y8, Y3, Y3
	ADDQ SI, BX
	ADDQ R13, R12
	INCQ AX
	JMP  rpass4

rpass4done:
	MOVQ  R10, AX
	IMULQ R13, AX
	ADDQ  DI, AX
	LEAQ  (AX)(R8*8), AX     // &g[i*cols + c]
	VMOVUPD Y0, 0(AX)
	VMOVUPD Y1, 32(AX)
	VMOVUPD Y2, 64(AX)
	VMOVUPD Y3, 96(AX)
	INCQ R10
	JMP  rrow4

rrow4done:
	ADDQ $16, R8
	JMP  rchunk

rsingle:
	CMPQ R8, DX
	JGE  rdone
	XORQ R10, R10

rrow1:
	CMPQ   R10, CX
	JGE    rrow1done
	VXORPD Y0, Y0, Y0
	LEAQ   (R11)(R10*8), BX
	LEAQ   (R9)(R8*8), R12
	XORQ   AX, AX

rpass1:
	CMPQ AX, R14
	JGE  rpass1done
	VBROADCASTSD (BX), Y4
	VMULPD (R12), Y4, Y5
	VADDPD Y5, Y0, Y0
	ADDQ SI, BX
	ADDQ R13, R12
	INCQ AX
	JMP  rpass1

rpass1done:
	MOVQ  R10, AX
	IMULQ R13, AX
	ADDQ  DI, AX
	LEAQ  (AX)(R8*8), AX
	VMOVUPD Y0, (AX)
	INCQ R10
	JMP  rrow1

rrow1done:
	ADDQ $4, R8
	JMP  rsingle

rdone:
	VZEROUPPER
	RET
